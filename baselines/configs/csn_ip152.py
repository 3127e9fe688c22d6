# ip-CSN-152, mmaction2's zoo config.
_base_ = 'mmaction::recognition/csn/ipcsn_r152_32x2x1-180e_kinetics400-rgb.py'
