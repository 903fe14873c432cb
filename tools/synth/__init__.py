"""Synthetic mannequin fixtures: a shaded 3D figure, posed by a small kinematic model and seen through a pinhole
camera, rendered to H.264 .mp4 with a JSON sidecar of ground truth, so the pose pipeline and the rule checkers
can be tested on motions whose every angle and every injected fault is known.

Regenerate everything (deterministic: same code and library versions give the same bytes)::

    python -m tools.synth                 # writes fixtures/videos/<name>.mp4 + <name>.json
    python -m tools.synth --only lunge_front_valgus
    python -m tools.synth --list

The mannequin itself is package code, because the web's exercise demos pose it too: formcheck.mannequin.body
(proportions, FK/IK, the 33-landmark map), .render (camera, ray caster, floor and wall) and .exercises (rep
timeline and per-exercise poses). Here, outside the wheel: figure (capsules/ellipsoids + face + clothes), fixtures
(the fixture table and the .mp4/.json writer) and sweep (the camera sweep behind `formcheck sweep`).

Sidecar format ``"format": "formcheck.mannequin/1"`` (one JSON object; the header is pretty-printed and each
frame is one line)::

    format            "formcheck.mannequin/1"
    generator_version int, bumped when the motions or the renderer change
    name, video       "<exercise>_<view>_<variant>", "<name>.mp4"
    description       one line of prose
    exercise          exercise id (small_knee_bend, lunge, single_leg_squat, step_down, side_lying_leg_raise)
    view              "front" | "side" (side-lying: "front" = the camera faces the person's front)
    working_side      "left" | "right": stance leg, front leg of the lunge, or top leg when side-lying
    stance_side       "left" | "right" | null (null: bilateral or lying; pelvic_drop_deg then uses working_side)
    fps               30 (frame i is at t_s = i / fps, which is also the decoded timestamp)
    frame_count, duration_s
    frame_wh          [width, height] px
    camera            {position_m, target_m, focal_px, width_px, height_px, model}: pinhole, principal point at
                      the frame centre. World: metres, +y up, floor y = 0; a person facing the camera looks +z
                      and their own left is +x.
    body              segment lengths (m) of the ~1.75 m figure
    fault_meanings    {fault id: what its size measures} for the faults in this file
    landmark_names    the 33 BlazePose names in index order (formcheck.core.landmarks.Lm)
    reps              [{index (1-based), start_s, bottom_s, end_s, side,
                        faults: [{fault, size_deg, measure}],  # [] on a clean rep
                        at_bottom: {i, measures, truth_3d}}]    # the frame nearest bottom_s
    frames            [{i, t_s, rep (index or null between reps), phase (0 = start position .. 1 = bottom),
                        faults_now {fault: size at this instant},
                        landmarks_px  33×[x, y]  projected ground truth, px, y down, pixel centres at +0.5,
                                      i.e. the same convention as MediaPipe's normalised coords × frame size,
                        landmarks_m   33×[x, y, z] world ground truth, metres (mm precision),
                        measures      formcheck.core.geometry on landmarks_px: knee_flexion_deg, hip_flexion_deg,
                                      hip_abduction_deg, fppa_deg, knee_medial_offset_ratio,
                                      knee_past_toe_ratio (each {left, right}); pelvic_drop_deg (for
                                      stance_side, else working_side); trunk_lateral_lean_deg,
                                      trunk_forward_lean_deg, knee_ankle_width_ratio (null = undefined),
                        truth_3d      the generator's own 3D values: frontal_fppa_3d_deg {left, right}
                                      (orthographic along the body's forward axis), pelvis_obliquity_3d_deg
                                      (+ left hip up), pelvis_rotation_3d_deg (+ turned to the left),
                                      trunk_forward_3d_deg, trunk_lateral_3d_deg (+ to the left),
                                      hip_flexion_3d_deg / hip_abduction_3d_deg of the working leg when it
                                      is posed by FK (else null)}]

Fault ids and sizes (degrees, peaking at each faulty rep's bottom, scaled by the phase elsewhere):
- knee_valgus: the FPPA of the working knee as the fixture's front camera sees it (both knees for the
  bilateral mini squat); clean reps are solved to read 0.
- pelvic_drop: pelvic obliquity, non-stance side lower, pivoting on the stance hip. The trunk follows 60% of
  it towards the free side (an uncompensated drop), because MediaPipe's hips track the trunk far more than
  the pelvis outline: on this figure a pure 14° drop under a level trunk reads ~3°.
- trunk_lateral_lean: towards the stance side (the person's left when bilateral); trunk_forward_lean: extra
  forward lean (side view).
- hip_hiking, hip_flexion_drift, pelvic_rollback: side-lying compensations (see FAULTS in formcheck/mannequin/exercises.py).
A fault's ``measure`` names the key of ``measures`` (2D) or ``truth_3d`` that shows it.
"""

from tools.synth.fixtures import FIXTURES, FIXTURES_BY_NAME, FORMAT, Fixture, load_sidecar, write_fixture

__all__ = ["FIXTURES", "FIXTURES_BY_NAME", "FORMAT", "Fixture", "load_sidecar", "write_fixture"]
