"""formcheck: camera-guided knee rehab.

The mental model, in six lines::

    with PoseEstimator.open(model) as est:                 # pose.py: frames -> PoseFrame (px, NaN when unseen)
        for frame in est.frames(video):                    # decoder timestamps, upright frames
            frame = smoother(frame)                        # smoothing.py: One Euro (live) / zero-phase (offline)
            fb = session.update(frame)                     # analysis.py: measures -> reps -> rules -> LiveFeedback
    report = session.result()                              # judged reps, JSON report, stored by the programme engine
"""

__version__ = "0.1.0"
