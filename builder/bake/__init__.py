"""`pybuild bake`: many images from one compose, HCL or JSON bake file, built at once.

The flow, one module per step: `files` (which files, which format) ->
`compose` / `document` + `evaluate` (the formats, into a `model.Config`) ->
`resolve` (targets and groups asked for, `inherits`, `--set` from
`overrides`) -> `printing` (`--print`) or `requests` + `run` (one
`builder.build` per target, in parallel, on one store; `progress` shares
the display). docs/bake.md is the user's guide.
"""
