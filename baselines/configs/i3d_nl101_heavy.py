# NL101 heavy: depth 101, every block inflated, non-local blocks as in i3d_nl101.
_base_ = './i3d_nl101.py'
model = dict(backbone=dict(inflate=(1, 1, 1, 1), conv1_stride_t=1, pool1_stride_t=1, with_pool2=True))
