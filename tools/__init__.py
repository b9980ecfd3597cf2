"""Developer tooling: setup steps and the process launcher behind `make run` and the tests."""
