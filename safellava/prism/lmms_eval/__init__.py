"""PRISM as lmms-eval tasks: `writer` writes the task definitions (`safellava prism lmms-eval-tasks`),
`hooks` holds the functions those definitions name, which lmms-eval imports when it reads them.

Nothing here imports lmms_eval: the hooks receive plain documents and answer strings, and score them
with the same code as `safellava prism score` (`safellava.prism.evaluate`).
"""
