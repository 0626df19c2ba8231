"""Export a model as a directory that sentence-transformers and HF transformers load as they are.

    python -m minitransformer.export runs/default exported/
    python -m minitransformer.export minilm exported-minilm/

Any model embed.py loads: a training run (its best checkpoint) or checkpoint, a model saved by
this project, a BERT directory, `minilm`. Then, in an environment with those packages:

    SentenceTransformer("exported/").encode(sentences)    # our embeddings, within 1e-5
    BertModel.from_pretrained("exported/")                # our hidden states
    python train.py evaluate exported/ --task NAME=FILE   # a run's heads, kept in exported/heads/

What is written, and which of our encoders are BERTs: pretrained.export_bert.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .bert_format import export_bert
from .cli import CommandParser, check_writable, main_of
from .errors import InputError, shown
from .loading import find_model, load_model, load_model_with_heads
from .sentence import SentenceEncoder
from .storage.atomic import atomic_directory
from .storage.formats import HEADS_DIRECTORY
from .tasks.heads import MaskedLanguageModelHead
from .training.saving import save_heads


def export(name: str, out: Path) -> list[str]:
    """Write the model `name` to `out` (which must not hold anything yet), atomically: an error
    leaves nothing behind. Returns the task names of the heads written beside the encoder."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{shown(str(out))}: already exists and is not an empty directory; "
                         f"choose a new one")
    found = find_model(name)
    # Not inside the model it reads: the next save of that run or model would delete it.
    check_writable(out, "OUT_DIR", directory=True,
                   reads=[("MODEL_OR_RUN", found.run or found.path)])
    if found.has_heads:  # a run, one of its checkpoints, or an exported run
        model, tokenizer, description = load_model_with_heads(found.path)
        encoder = SentenceEncoder(tokenizer, model.encoder, pooling=model.pooling_name)
        mlm_heads = [head for head in model.heads.values()
                     if isinstance(head, MaskedLanguageModelHead)]
    else:
        model, description, mlm_heads = None, None, []
        encoder = load_model(found.path, "cpu")
    if len(mlm_heads) > 1 and encoder.encoder.config.positional == "sinusoidal":
        raise InputError("several masked-LM heads on sinusoidal positions: the export rescales "
                         "the token table, and only one head can be written rescaled")
    with atomic_directory(out) as temporary:
        # A run's masked-LM head is also written as BERT's own (cls.predictions): then
        # BertForMaskedLM loads the export as it is.
        export_bert(encoder, temporary, mlm_heads[0] if len(mlm_heads) == 1 else None)
        if model is not None:
            save_heads(temporary / HEADS_DIRECTORY, model, description)
    return [] if model is None else list(model.heads)


@main_of
def main(argv=None) -> int:
    parser = CommandParser(prog="python -m minitransformer.export",
                           description=__doc__.split("\n\n")[0],
                           epilog="OUT_DIR gets config.json, model.safetensors, vocab.txt, "
                                  "tokenizer.json, modules.json, 1_Pooling/, "
                                  "sentence_bert_config.json, and for a run heads/.")
    parser.add_argument("model", metavar="MODEL_OR_RUN",
                        help="a run directory, a checkpoint, a saved model, a BERT directory or "
                             "'minilm'")
    parser.add_argument("out", type=Path, metavar="OUT_DIR", help="a new directory to write")
    args = parser.parse_args(argv)
    tasks = export(args.model, args.out)
    print(f"exported {args.model} to {args.out}"
          + (f" with the heads of {', '.join(tasks)} in {args.out / HEADS_DIRECTORY}"
             if tasks else ""))
    print(f"  sentence-transformers: SentenceTransformer({str(args.out)!r}).encode(sentences)\n"
          f"  transformers:          BertModel.from_pretrained({str(args.out)!r})")
    if tasks:
        print(f"  heads:                 python train.py evaluate {args.out} "
              f"--task {tasks[0]}=FILE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
