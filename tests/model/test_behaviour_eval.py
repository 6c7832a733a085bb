"""The behaviour check runs on any stored model, whatever spelling a request gives a dyad."""

from models.predictor import Predictor
from training import behaviour_eval


def test_behaviour_eval_reports_every_group(tiny_model_dir):
    report = behaviour_eval.run(Predictor.from_directory(tiny_model_dir, "tiny"))
    unrelated = report["unrelated"]
    assert unrelated["n_quotes"] >= 60  # the written unrelated quotes, plus test-split snippets
    for group in ("project", "trained_other", "unseen"):
        assert 0.0 <= unrelated[f"{group}_none_share"] <= 1.0
        assert unrelated[f"{group}_dyads"]
    related = report["unseen_related"]
    assert related["n_quotes"] == 48
    assert related["trained"] is False  # india-pakistan and the like were never trained
    assert 0.0 <= related["stance_share"] <= 1.0
