"""scikit-learn's own estimator checks on the ResNet estimators: input validation, fitted state, cloning,
pickling, sample-order invariance, binary-only classification. Every check runs; the only one reported
as skipped is scikit-learn's array-API check, which it skips itself unless SCIPY_ARRAY_API is set."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from shopfloor.fault_detection.estimators import ResNetClassifier, ResNetRegressor

ESTIMATORS = [
    ResNetRegressor(width=8, layers=2, max_epochs=300),
    ResNetClassifier(width=8, layers=2, max_epochs=200, enkf_iterations=5),
]


@parametrize_with_checks(ESTIMATORS)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
