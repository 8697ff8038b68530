"""A recorded run's trained model out of its study, and back in to predict.

folder.py   `tunebench export`: rebuild.py (the run's model, its checkpoint loaded)
            -> writers.py (peft / model / bottleneck format) -> tokenizer + tunebench.json
info.py     `tunebench.json`: its name and reader
load.py     an exported folder loaded back (and our bottleneck format's reader)
predict.py  `tunebench predict`: an exported classifier or generation run on a user's file
commands.py the two subcommands
"""
