# I3D R101: the zoo has only R50; depth 101, inflating every other block of res4 (23 blocks).
_base_ = './i3d_r50.py'
model = dict(backbone=dict(depth=101, inflate=((1, 1, 1), (1, 0, 1, 0), (1, 0) * 11 + (1,), (0, 1, 0))))
