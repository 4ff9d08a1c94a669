"""Spam scoring with no outside service: rules, and a filter the author's decisions train.

``rules`` (pure) scores one comment from what it says; ``bayes`` (pure) is a small
naive Bayes filter over its words, trained by Spam and Approve decisions; ``scorer``
combines them. ``mailbridge spam score`` runs it on JSON lines (docs/spam.md).
"""
