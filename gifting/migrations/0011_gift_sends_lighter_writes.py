"""Gift sends and gift totals lose their foreign-key constraints and the indexes no
query needs (each was one more write, and each constraint one more check with a share
lock on the hot live, host and gift rows, per row of every batch of sends). See the
models' comments for why the references hold without them."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('gifting', '0010_settlement_lighter'),
        ('streams', '0001_lives'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='giftsend',
            name='creator',
            field=models.ForeignKey(db_constraint=False, db_index=False, help_text="The live's host when the gift was sent: who earns it.", on_delete=django.db.models.deletion.PROTECT, related_name='gifts_received', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='giftsend',
            name='gift',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='sends', to='gifting.gift'),
        ),
        migrations.AlterField(
            model_name='giftsend',
            name='sender',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='gifts_sent', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='giftsend',
            name='stream',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='gift_sends', to='streams.stream'),
        ),
        migrations.AlterField(
            model_name='gifttotal',
            name='creator',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='gifttotal',
            name='sender',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='gifttotal',
            name='stream',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='streams.stream'),
        ),
    ]
