"""Length-grouped batches: every example once per epoch, batches of similar length, less padding
than random batches, a different mix each epoch, the same for the same seed, and DDP shards that
still cover each batch exactly."""

import random

import torch

from minitransformer.tasks.data import epoch_order, grouped_by_length

BATCH = 8


def lengths(n=1000, seed=0):
    rng = random.Random(seed)
    return [rng.choice([rng.randint(5, 15), rng.randint(20, 120)]) for _ in range(n)]


def padded_tokens(order, sizes, batch=BATCH):
    """Tokens computed when each batch pads to its longest member."""
    return sum(max(sizes[i] for i in order[s:s + batch]) * len(order[s:s + batch])
               for s in range(0, len(order), batch))


def test_every_example_once_and_far_less_padding():
    sizes = lengths()
    randomly = epoch_order(len(sizes), torch.Generator().manual_seed(0))
    grouped = epoch_order(len(sizes), torch.Generator().manual_seed(0), lengths=sizes,
                          batch_size=BATCH)
    assert sorted(grouped) == list(range(len(sizes)))
    real = sum(sizes)
    random_padding = 1 - real / padded_tokens(randomly, sizes)
    grouped_padding = 1 - real / padded_tokens(grouped, sizes)
    assert random_padding > 0.4 and grouped_padding < 0.05, (random_padding, grouped_padding)


def test_batches_are_random_in_order_and_mix_differently_each_epoch():
    sizes = lengths()
    generator = torch.Generator().manual_seed(1)
    first = epoch_order(len(sizes), generator, lengths=sizes, batch_size=BATCH)
    second = epoch_order(len(sizes), generator, lengths=sizes, batch_size=BATCH)
    assert first != second
    again = epoch_order(len(sizes), torch.Generator().manual_seed(1), lengths=sizes,
                        batch_size=BATCH)
    assert again == first  # same seed, same epoch
    longest = [max(sizes[i] for i in first[s:s + BATCH]) for s in range(0, len(first), BATCH)]
    assert longest != sorted(longest) and longest != sorted(longest, reverse=True)


def test_a_smaller_last_batch_stays_last():
    sizes = lengths(n=1003)  # chunks of 5 batches = 40: 25 full chunks, then a chunk of 3
    order = grouped_by_length(list(range(1003)), sizes, BATCH, torch.Generator().manual_seed(2),
                              chunk_batches=5)
    assert sorted(order) == list(range(1003))
    assert sorted(order[-3:]) == [1000, 1001, 1002]  # the short batch closes the epoch
    assert order[:8] != sorted(range(8), key=lambda i: -sizes[i])  # the full ones are shuffled


def test_ddp_shards_split_each_grouped_batch():
    sizes = lengths()
    shards = [epoch_order(len(sizes), 3, rank, 2, lengths=sizes, batch_size=BATCH // 2)
              for rank in (0, 1)]
    assert sorted(shards[0] + shards[1]) == list(range(len(sizes)))
    whole = epoch_order(len(sizes), 3, lengths=sizes, batch_size=BATCH)
    for start in range(0, len(whole) - BATCH, BATCH):  # rank r's batch j is half of batch j
        j = start // BATCH
        halves = shards[0][j * 4:(j + 1) * 4] + shards[1][j * 4:(j + 1) * 4]
        assert sorted(halves) == sorted(whole[start:start + BATCH])
