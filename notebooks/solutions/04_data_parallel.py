"""Reference solutions of notebook 04's exercises, and typical mistakes with the words their
explanation must contain (see tests/test_course_exercises.py)."""


def split(batch_size, work_load_list):
    total = sum(work_load_list)
    counts = [round(w * batch_size / total) for w in work_load_list]
    counts[-1] += batch_size - sum(counts) if sum(counts) < batch_size else 0
    slices, end = [], 0
    for n in counts:
        begin = min(end, batch_size)
        end = min(begin + n, batch_size)
        slices.append(slice(begin, end))
    return slices


def split_floor(batch_size, work_load_list):
    # floor division, the last device takes the rest: wrong where round() rounds up
    total = sum(work_load_list)
    counts = [int(w * batch_size // total) for w in work_load_list]
    counts[-1] += batch_size - sum(counts)
    starts = [sum(counts[:k]) for k in range(len(counts))]
    return [slice(s, s + n) for s, n in zip(starts, counts)]


def split_equal(batch_size, work_load_list):
    n = len(work_load_list)
    size = batch_size // n
    return [slice(k * size, batch_size if k == n - 1 else (k + 1) * size) for k in range(n)]


def place(sizes, num_gpus):
    load = [0] * num_gpus
    where = {}
    for key in sorted(sizes, key=lambda k: -sizes[k]):
        gpu = min(range(num_gpus), key=lambda g: (load[g], g))
        where[key] = gpu
        load[gpu] += sizes[key]
    return where


def place_first_device(sizes, num_gpus):
    return {key: 0 for key in sizes}


def place_round_robin(sizes, num_gpus):
    return {key: k % num_gpus for k, key in enumerate(sizes)}


SOLUTIONS = {"04.1": split, "04.2": 1 / 12, "04.3": place}

WRONG = {
    "04.1": [(split_floor, "round"), (split_equal, "round")],
    "04.2": [(1 / 6, "whole batch"), (1 / 3, "whole batch"), (1.0, "mean")],
    "04.3": [(place_first_device, "first value"), (place_round_robin, "largest first")],
}
