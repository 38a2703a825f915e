"""The seed articles' implementations (../shared/seeds/), kept as oracles for the fidelity tests.

Each file holds one article's code with only its layout repaired (the blog pages lost indentation and ``__init__``
underscores); every deviation in behaviour is in our blocks and pinned by a fidelity test that says why.
"""
