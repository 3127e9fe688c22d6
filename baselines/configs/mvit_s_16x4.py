# MViTv2-S 16x4, mmaction2's zoo config (trained in mmaction2; 5 clips x 1 crop).
_base_ = 'mmaction::recognition/mvit/mvit-small-p244_32xb16-16x4x1-200e_kinetics400-rgb.py'
