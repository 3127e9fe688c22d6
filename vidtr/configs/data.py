"""Kinetics data settings of the authors' released configs, as a function of the clip
(clip_len x frame_interval), so each model config states its clip once instead of
restating pipelines (mmengine merges lists whole)."""


def kinetics_pipelines(clip_len: int, frame_interval: int, test_clips: int = 10) -> dict:
    """train: clip_len frames over a clip_len*rate window, short side 256 rescaled x[1, 1.25],
    flip, random 224 crop. test: ``test_clips`` temporal clips x 3 crops at short side 224
    (30 views), softmax averaged by the head. val: one centre view."""
    def sample(**kw):
        return dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, **kw)

    tail = [dict(type='FormatShape', input_format='NCTHW'), dict(type='PackActionInputs')]
    return dict(
        train=[dict(type='DecordInit'), sample(num_clips=1), dict(type='DecordDecode'),
               dict(type='Resize', scale=(-1, 256)), dict(type='RandomRescale', scale_range=(256, 320)),
               dict(type='Flip', flip_ratio=0.5), dict(type='RandomCrop', size=224)] + tail,
        val=[dict(type='DecordInit'), sample(num_clips=1, test_mode=True), dict(type='DecordDecode'),
             dict(type='Resize', scale=(-1, 224)), dict(type='CenterCrop', crop_size=224)] + tail,
        test=[dict(type='DecordInit'), sample(num_clips=test_clips, test_mode=True), dict(type='DecordDecode'),
              dict(type='Resize', scale=(-1, 224)), dict(type='ThreeCrop', crop_size=224)] + tail,
    )


def kinetics_loaders(data_root: str, clip_len: int, frame_interval: int, batch_size: int,
                     num_classes: int = 400, num_workers: int = 8) -> tuple:
    """(train, val, test) dataloader configs over ``data_root`` (mmaction2 video list files)."""
    pipes = kinetics_pipelines(clip_len, frame_interval)
    name = f'kinetics{num_classes}'

    def loader(split, pipeline, bs, train):
        return dict(
            batch_size=bs, num_workers=num_workers, persistent_workers=num_workers > 0,
            sampler=dict(type='DefaultSampler', shuffle=train),
            dataset=dict(type='VideoDataset', ann_file=f'{data_root}/{name}_{split}_list_videos.txt',
                         data_prefix=dict(video=f'{data_root}/videos_{split}'), pipeline=pipeline,
                         test_mode=not train))

    return (loader('train', pipes['train'], batch_size, True),
            loader('val', pipes['val'], batch_size, False),
            loader('val', pipes['test'], 1, False))
