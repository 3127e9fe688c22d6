# MViTv2-B 32x3, mmaction2's zoo config (converted from pySlowFast; 5 clips x 1 crop).
_base_ = 'mmaction::recognition/mvit/mvit-base-p244_32x3x1_kinetics400-rgb.py'
