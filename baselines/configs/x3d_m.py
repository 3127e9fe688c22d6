# X3D-M, mmaction2's zoo config (converted from pySlowFast).
_base_ = 'mmaction::recognition/x3d/x3d_m_16x5x1_facebook-kinetics400-rgb.py'
