# Video Swin-S 32x2, mmaction2's zoo config; no ImageNet weights loaded.
_base_ = 'mmaction::recognition/swin/swin-small-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py'
model = dict(backbone=dict(pretrained=None, pretrained2d=False))
