"""The semantic pipeline (DESIGN §4): real open_clip encoders, the noisy feature channel,
classification and regeneration receivers, and the measurement of task-loss profiles.

Heavy dependencies (torch, open_clip, diffusers) are imported inside functions, so that
importing netsim stays fast.
"""
