# SlowFast R101 8x8, mmaction2's zoo config. The 16x8 rows feed the same model 64 frames.
_base_ = 'mmaction::recognition/slowfast/slowfast_r101_8xb8-8x8x1-256e_kinetics400-rgb.py'
