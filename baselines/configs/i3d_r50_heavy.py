# I3D R50 'heavy' (every block inflated, no early temporal striding): the I3D-50 of TPN [57],
# which Table 2 cites (mmaction2's metafile: 166.3 GFLOPs counted at 256x256).
_base_ = 'mmaction::recognition/i3d/i3d_imagenet-pretrained-r50-heavy_8xb8-32x2x1-100e_kinetics400-rgb.py'
model = dict(backbone=dict(pretrained=None, pretrained2d=False))
