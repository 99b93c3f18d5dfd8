"""Loaders for the open datasets used to train and evaluate ecgpilot."""
