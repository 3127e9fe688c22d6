# X3D-XL: width factor 2.0 and depth factor 5.0 (pySlowFast X3D_XL); evaluated at 312.
_base_ = './x3d_m.py'
model = dict(backbone=dict(gamma_w=2.0, gamma_d=5.0), cls_head=dict(in_channels=864))
