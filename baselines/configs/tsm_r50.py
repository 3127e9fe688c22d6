# TSM R50, 8 segments (TSN sampling), mmaction2's zoo config; local weights only.
_base_ = 'mmaction::recognition/tsm/tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb.py'
model = dict(backbone=dict(pretrained=None))
