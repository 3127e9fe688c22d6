# NL101: depth 101 over the NL50 config; non-local blocks after every other block of res3/res4.
_base_ = './i3d_nl50.py'
model = dict(backbone=dict(
    depth=101, inflate=((1, 1, 1), (1, 0, 1, 0), (1, 0) * 11 + (1,), (0, 1, 0)),
    non_local=((0, 0, 0), (0, 1, 0, 1), (0, 1) * 11 + (0,), (0, 0, 0))))
