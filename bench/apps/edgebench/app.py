"""The edge benchmark's app (``bench/bench_edge.py``): a private bucket of files served through a distribution.

``site/`` holds a small HTML page; the benchmark writes a 1 MiB file of random bytes (``blob.bin``) into a
temporary copy of this folder before it starts the app, so no large file is kept in the repository. Every file
is kept an hour (``Cache-Control: public, max-age=3600``), so nothing expires during a run and every measured
request is a hit.
"""

from stratus import App, Behavior, BucketOrigin

app = App("edgebench")
files = app.bucket("files")
cdn = app.distribution("cdn", default=Behavior(BucketOrigin(files)))
app.deploy_folder("site", bucket=files, source="site", distribution=cdn,
                  cache_control={"*": "public, max-age=3600"})
