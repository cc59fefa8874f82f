import pytest

from training.eval.metrics import (
    METRICS,
    bleu4,
    bootstrap_ci,
    detect_lang,
    paired_bootstrap,
    score_pairs,
)


def test_rouge_score_library_gives_zero_on_identical_chinese_but_ours_gives_100():
    from rouge_score import rouge_scorer

    text = "感冒常见的症状包括发烧和咳嗽"
    assert rouge_scorer.RougeScorer(["rouge1"]).score(text, text)["rouge1"].fmeasure == 0.0
    assert METRICS.get("rouge-1")(text, text, "zh") == pytest.approx(100, abs=1e-4)


def test_chinese_rouge1_uses_jieba_words():
    # jieba: 我/头疼 vs 我/头疼/发烧 → P = 2/3, R = 1, F = 0.8
    assert METRICS.get("rouge-1")("我头疼发烧", "我头疼", "zh") == pytest.approx(80, abs=1e-4)


def test_english_rouge1_hand_computed():
    # 5 of 6 unigrams overlap in each direction → F = 5/6
    assert METRICS.get("rouge-1")("the cat sat on a mat", "the cat sat on the mat", "en") == pytest.approx(
        500 / 6, abs=1e-6
    )


def test_chinese_bleu_is_character_level():
    assert bleu4("头痛发烧", "头痛发烧", "zh") == pytest.approx(100)
    assert bleu4("发烧头痛", "头痛发烧", "zh") < 50  # same characters, wrong order


def test_empty_prediction_scores_zero_for_every_metric():
    scores = score_pairs([""], ["Drink fluids and rest."], ["rouge-1", "rouge-2", "rouge-l", "bleu-4"])
    assert all(v == [0.0] for v in scores.values())


@pytest.mark.parametrize(
    ("text", "lang"), [("我头疼", "zh"), ("I have a headache", "en"), ("CT 检查显示肺炎", "zh")]
)
def test_detect_lang(text, lang):
    assert detect_lang(text) == lang


def test_bootstrap_interval_brackets_the_mean():
    est = bootstrap_ci([10.0, 20.0, 30.0, 40.0, 50.0], n_boot=500)
    assert est.mean == 30.0
    assert est.low < est.mean < est.high
    assert est.low >= 10.0 and est.high <= 50.0


def test_paired_bootstrap_detects_a_consistent_gain_and_not_noise():
    a = [float(i % 7) for i in range(60)]
    gain = paired_bootstrap(a, [x + 5 for x in a], n_boot=500)
    assert gain.diff.mean == pytest.approx(5)
    assert gain.p_value < 0.01
    same = paired_bootstrap(a, list(a), n_boot=500)
    assert same.diff.mean == 0 and same.p_value == 1.0
