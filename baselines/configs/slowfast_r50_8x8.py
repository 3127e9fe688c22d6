# SlowFast R50 8x8 (32 fast frames, tau 4), mmaction2's zoo config.
_base_ = 'mmaction::recognition/slowfast/slowfast_r50_8xb8-8x8x1-256e_kinetics400-rgb.py'
