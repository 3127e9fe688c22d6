"""Kinetics data settings of the authors' released configs, as a function of the clip
(clip_len x frame_interval), so each model config states its clip once instead of
restating pipelines (mmengine merges lists whole); and the one data layout under a data root,
read by these plain configs (mmaction2's tools) and by ``vidtr-bench`` alike (its recipes,
check-data, the smoke table)::

    <data root>/<dataset>/<dataset>_train_list_videos.txt   mmaction2 list files ("path label[ label...]")
    <data root>/<dataset>/<dataset>_val_list_videos.txt     (the val list is also the test list)
    <data root>/<dataset>/videos_train/...                  the videos the train list names
    <data root>/<dataset>/videos_val/...
    <data root>/<dataset>/classes.txt                       one class name per line, in label order

mmaction2's own Kinetics layout (``data/kinetics400/kinetics400_train_list_videos.txt``,
``videos_train/``), so its zoo configs and data scripts find the same files."""

SPLITS = ('train', 'val')


def _split(split: str) -> str:
    if split not in SPLITS + ('test',):
        raise ValueError(f'unknown split {split!r}; valid: train, val, test (tested on the val list)')
    return 'val' if split == 'test' else split


def ann_file(data_root: str, dataset: str, split: str) -> str:
    """The list file of ``dataset``'s ``split`` under ``data_root`` (``test`` reads the val list)."""
    return f'{data_root}/{dataset}/{dataset}_{_split(split)}_list_videos.txt'


def video_dir(data_root: str, dataset: str, split: str) -> str:
    """The folder the paths of ``split``'s list file are relative to."""
    return f'{data_root}/{dataset}/videos_{_split(split)}'


# training samplers: 'released' is the authors' released code (the default: the released
# checkpoints and the paper's numbers came from it, as the backbone's fidelity='released');
# 'mmaction' is mmaction2's SampleFrames, for configs of the backbone's fidelity='paper' (none
# ship today: benchmark.runs.fidelity_samplers swaps it in for runs that set that fidelity)
TRAIN_SAMPLERS = ('released', 'mmaction')


def train_sampler(clip_len: int, frame_interval: int, sampler: str = 'released') -> dict:
    """The training sampler of a clip_len x frame_interval window: 'released',
    vidtr.transforms.SpreadSampleFrames (frames spread evenly, ends included, over the window:
    offsets 0, 9, ..., 63 for 8x8; a video shorter than the window is spread over its whole
    length); 'mmaction', mmaction2's SampleFrames (a fixed stride: 0, 8, ..., 56; a video
    shorter than the window wraps around, its default)."""
    if sampler not in TRAIN_SAMPLERS:
        raise ValueError(f'unknown training sampler {sampler!r}; valid: {", ".join(TRAIN_SAMPLERS)}')
    kind = 'SpreadSampleFrames' if sampler == 'released' else 'SampleFrames'
    return dict(type=kind, clip_len=clip_len, frame_interval=frame_interval, num_clips=1)


def kinetics_pipelines(clip_len: int, frame_interval: int, test_clips: int = 10, sampler: str = 'released') -> dict:
    """train: clip_len frames over a clip_len*rate window (``sampler``: see train_sampler),
    short side 256 rescaled x[1, 1.25], flip, random 224 crop. test: ``test_clips`` temporal
    clips x 3 crops at short side 224 (30 views), softmax averaged by the head; val: one centre
    view; both sample with an exact stride (mmaction2's SampleFrames in test mode), as the
    released test loader does."""
    def sample(**kw):
        return dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, **kw)

    tail = [dict(type='FormatShape', input_format='NCTHW'), dict(type='PackActionInputs')]
    return dict(
        train=[dict(type='DecordInit'), train_sampler(clip_len, frame_interval, sampler), dict(type='DecordDecode'),
               dict(type='Resize', scale=(-1, 256)), dict(type='RandomRescale', scale_range=(256, 320)),
               dict(type='Flip', flip_ratio=0.5), dict(type='RandomCrop', size=224)] + tail,
        val=[dict(type='DecordInit'), sample(num_clips=1, test_mode=True), dict(type='DecordDecode'),
             dict(type='Resize', scale=(-1, 224)), dict(type='CenterCrop', crop_size=224)] + tail,
        test=[dict(type='DecordInit'), sample(num_clips=test_clips, test_mode=True), dict(type='DecordDecode'),
              dict(type='Resize', scale=(-1, 224)), dict(type='ThreeCrop', crop_size=224)] + tail,
    )


def kinetics_loaders(data_root: str, clip_len: int, frame_interval: int, batch_size: int,
                     num_classes: int = 400, num_workers: int = 8, sampler: str = 'released') -> tuple:
    """(train, val, test) dataloader configs over ``kinetics<num_classes>`` under ``data_root``
    (the layout above).
    ``batch_size``: clips per GPU, the released configs' (8 GPUs: the total batch is 8x it);
    ``sampler``: the training sampler, 'released' or 'mmaction' (see train_sampler)."""
    pipes = kinetics_pipelines(clip_len, frame_interval, sampler=sampler)
    name = f'kinetics{num_classes}'

    def loader(split, pipeline, bs, train):
        return dict(
            batch_size=bs, num_workers=num_workers, persistent_workers=num_workers > 0,
            sampler=dict(type='DefaultSampler', shuffle=train),
            dataset=dict(type='VideoDataset', ann_file=ann_file(data_root, name, split),
                         data_prefix=dict(video=video_dir(data_root, name, split)), pipeline=pipeline,
                         test_mode=not train))

    return (loader('train', pipes['train'], batch_size, True),
            loader('val', pipes['val'], batch_size, False),
            loader('val', pipes['test'], 1, False))
