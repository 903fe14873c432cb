"""The 3D mannequin (body, motions, ray-cast camera): the exercise demos on the web pages and the fixture generator in tools/synth."""
