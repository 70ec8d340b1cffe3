"""The project's tests (a regular package: medspaCy's wheel installs a top-level `tests`
package of its own, which would otherwise shadow this one)."""
