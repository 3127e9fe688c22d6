# TimeSformer joint space-time 8x32, mmaction2's zoo config; local weights only.
_base_ = 'mmaction::recognition/timesformer/timesformer_jointST_8xb8-8x32x1-15e_kinetics400-rgb.py'
model = dict(backbone=dict(pretrained=None))
