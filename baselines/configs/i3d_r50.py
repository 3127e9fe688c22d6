# I3D R50 (Table 2 I3D50), mmaction2's zoo config; local weights only (no torchvision download).
_base_ = 'mmaction::recognition/i3d/i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_kinetics400-rgb.py'
model = dict(backbone=dict(pretrained=None, pretrained2d=False))
