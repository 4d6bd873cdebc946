"""Operations: knowledge-base status, reload and rollback, reports, ops policy, conversation tests."""
