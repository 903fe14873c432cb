"""formcheck: camera-guided knee rehab (docs/ARCHITECTURE.md has the picture and the import rules).

The entry points, lowest layer first::

    from formcheck.media.pose import open_estimator    # the only mediapipe import: image -> PoseFrame (px, NaN unseen)
    from formcheck.core.live import LiveSession        # live driver: One Euro smoothing, frame by frame
    from formcheck.core.offline import analyze_seq     # recorded driver: a whole clip's landmarks, zero-phase
    from formcheck.pipeline import analyze_video       # video file -> pose -> offline driver -> Report (+ render)

    with open_estimator() as est:                      # a PoseEstimator, one per stream; close it (`with`)
        session = LiveSession("squat")
        for frame in est.frames(0):                    # a camera index, a path, or (t_s, image) pairs
            feedback = session.update(frame)           # measures -> reps -> rules -> the one message to show
    result = session.result()                          # SetResult: judged reps, faults, messages
    report = analyze_video("clip.mp4", "squat")        # the same judging over a recorded clip

Both drivers read the same exercise files (formcheck/core/exercises/*.toml) and judge with the same functions
(core.judging), so a live set and an upload of it agree. The programme, the store and the web app sit above.
"""

__version__ = "0.1.0"
