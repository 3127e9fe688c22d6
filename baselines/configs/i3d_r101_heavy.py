# I3D R101 'heavy': depth 101 over the heavy R50 (every block inflated).
_base_ = './i3d_r50_heavy.py'
model = dict(backbone=dict(depth=101))
