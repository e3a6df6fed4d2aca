"""storystream's edges: the faust app and agents, the CLI, the local broker launcher."""
