"""Running qqbus on one machine: template.yaml read as data, an embedded AWS (moto), the stack.

Needs the ``local`` extra (``pip install -e '.[local]'``); never imported by a Lambda.
"""
