# X3D-L: X3D-M's backbone with depth factor 5.0 (X3D paper); evaluated at 312.
_base_ = './x3d_m.py'
model = dict(backbone=dict(gamma_d=5.0))
