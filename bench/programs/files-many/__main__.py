"""`count` files of the project's own `files` provider, declared through a generic
custom resource: the Python side of the inline benchmark (bench/inline).

Config:
  dir    (required) directory the files live in
  count  how many files (default 200)
"""

import os

import pulumi

config = pulumi.Config()
base = os.path.abspath(config.require("dir"))
count = int(config.get("count") or "200")

for i in range(count):
    pulumi.CustomResource(
        "files:index:File",
        f"f{i}",
        {"path": os.path.join(base, f"f{i}.txt"), "content": f"file {i}\n", "size": None},
    )

pulumi.export("count", count)
