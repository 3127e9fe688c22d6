# I3D R50 with embedded-Gaussian non-local blocks (Table 2 NL50), mmaction2's zoo config.
_base_ = 'mmaction::recognition/i3d/i3d_imagenet-pretrained-r50-nl-embedded-gaussian_8xb8-32x2x1-100e_kinetics400-rgb.py'
model = dict(backbone=dict(pretrained=None, pretrained2d=False))
