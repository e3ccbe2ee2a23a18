"""Never a traceback: random and mutated specs either analyse or raise SpecSyntaxError."""

from __future__ import annotations

import random

import pytest

import cnncalc
from cnncalc import SpecSyntaxError, zoo

TOKENS = ["32x32x3", "7x7", "5x", "0", "-1", "2.5", "1.5M", "1e-5", "->", "→", "[", "]", "(",
          ")", ",", "=", "*", "3", "conv", "dwconv", "deconv", "maxpool", "avgpool", "gap", "bn",
          "relu", "fc", "flatten", "pad", "upsample", "adaptiveavgpool", "residual", "concat",
          "repeat", "dropout", "softmax", "input", "s", "p", "k", "d", "g", "same", "valid",
          "ceil", "true", "bias", "shortcut", "op", "m", "x", "×", " ", "\n", ":", "#", "-", "'"]
SEEDS = [
    "32x32x3 -> conv(10, 5, p=2) -> relu -> maxpool(2) -> fc(10)",
    "56x56x64 -> residual([conv(64,3,p=1) -> bn], shortcut=[conv(64,1)]) -> [relu] * 2",
    "28x28x192 -> concat([conv(64,1)], [conv(96,1) -> conv(128,3,p=1)], []) -> gap -> fc(10)",
    "9x9x6 -> deconv(6, 3, s=2, p=1, op=1) -> upsample(2) -> adaptiveavgpool(3x2) -> flatten",
]


def outcome(text: str, verify: bool = False) -> str:
    try:
        report = cnncalc.analyze(text, verify=verify)
    except SpecSyntaxError as exc:
        assert exc.problems and all(p.message for p in exc.problems)
        return "syntax"
    report.to_dict()
    return "ok" if report.ok else "invalid"


def mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(chars) + 1)
        op = rng.random()
        if op < 0.4 and chars:
            del chars[min(i, len(chars) - 1)]
        elif op < 0.8:
            chars.insert(i, rng.choice(TOKENS))
        else:
            chars[i:i] = chars[rng.randrange(len(chars)):][:rng.randint(1, 12)]
    return "".join(chars)


@pytest.mark.parametrize("seed", range(40))
def test_random_token_soup(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        outcome(" ".join(rng.choice(TOKENS) for _ in range(rng.randint(0, 25))))


@pytest.mark.parametrize("seed", range(40))
def test_mutated_one_line_specs(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        outcome(mutate(rng, rng.choice(SEEDS)), verify=seed % 4 == 0)


@pytest.mark.parametrize("name", ["lenet5", "googlenet", "mobilenet_v2"])
def test_mutated_yaml_specs(name: str) -> None:
    path = zoo.path(name)
    assert path is not None
    text = path.read_text()
    rng = random.Random(name)
    for _ in range(150):
        outcome(mutate(rng, text))
