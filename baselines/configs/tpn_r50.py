# TPN over a SlowOnly R50, mmaction2's zoo config.
_base_ = 'mmaction::recognition/tpn/tpn-slowonly_r50_8xb8-8x8x1-150e_kinetics400-rgb.py'
