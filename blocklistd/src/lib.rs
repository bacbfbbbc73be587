//! blocklistd: the sync daemon banks and telcos run, and the centre's publishing tool.
