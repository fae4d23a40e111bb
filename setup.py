"""Build the optional C fast lane (``realmgate._speedups``; issue 5).

Everything else is declared in pyproject.toml. The extension is optional: without a C
compiler the package installs and works in pure Python (the verifier then runs every token
through the reference pipeline, about 2-3 times slower for unique tokens).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "realmgate._speedups",
            [
                "src/realmgate/_speedups.c",
                "src/realmgate/_speedups_split.c",
                "src/realmgate/_speedups_json.c",
                "src/realmgate/_speedups_claims.c",
                "src/realmgate/_speedups_lane.c",
                "src/realmgate/_speedups_accept.c",
                "src/realmgate/_speedups_rules.c",
                "src/realmgate/_speedups_doorkeeper.c",
                "src/realmgate/_speedups_native.c",
                "src/realmgate/_speedups_entry.c",
            ],
            depends=["src/realmgate/_speedups.h"],
            optional=True,
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ]
)
