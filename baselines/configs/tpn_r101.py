# TPN R101: depth 101 over the zoo's TPN SlowOnly R50.
_base_ = './tpn_r50.py'
model = dict(backbone=dict(depth=101))
