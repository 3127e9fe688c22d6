# NL50 as Table 2 cites it: the heavy I3D R50 with embedded-Gaussian non-local blocks
# (the zoo's NL config over the zoo's heavy backbone settings).
_base_ = './i3d_nl50.py'
model = dict(backbone=dict(inflate=(1, 1, 1, 1), conv1_stride_t=1, pool1_stride_t=1, with_pool2=True))
