"""The analysis pages of the workspaces, one class a page: each lays out its controls and
its view, asks the workbench's kind adapter for its arrays on the workspace's job thread,
and draws what comes back."""
