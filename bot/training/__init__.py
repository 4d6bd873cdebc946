"""Research tooling around the serving bot: chat-model fine-tuning and chat-answer evaluation."""
