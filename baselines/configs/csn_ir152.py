# ir-CSN-152, mmaction2's zoo config (the paper's CSN152 is IG65M-pretrained).
_base_ = 'mmaction::recognition/csn/ircsn_r152_32x2x1-180e_kinetics400-rgb.py'
